from rest_framework import serializers, viewsets

from analysis.models import Report


class ReportSerializer(serializers.ModelSerializer):
    class Meta:
        model = Report
        fields = ["id", "study", "html", "csv", "summary", "created_at"]


class ReportViewSet(viewsets.ReadOnlyModelViewSet):
    queryset = Report.objects.order_by("pk")
    serializer_class = ReportSerializer
