"""The project's own commands."""

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

pytestmark = pytest.mark.django_db


def test_the_first_run_makes_an_admin_and_prints_its_login_and_later_runs_only_say_who(capsys):
    call_command("first_login")
    printed = capsys.readouterr().out
    password = printed.split("admin / ")[1].split(" ")[0]
    user = get_user_model().objects.get()
    assert user.is_superuser and user.check_password(password)
    call_command("first_login")
    again = capsys.readouterr().out
    assert "log in as admin" in again and password not in again and "changepassword admin" in again
    assert get_user_model().objects.count() == 1
