"""The REST API's router: every app registers its viewsets here."""

from rest_framework.routers import DefaultRouter

from analysis.api import AlignmentRunViewSet, ReportViewSet, StudyWithResultsViewSet
from inversion.api import InversionJobViewSet, IRIViewSet, ModelSpecViewSet, TargetSetViewSet
from surveys.api import AssignmentViewSet, ResponseViewSet, SimilarityDataViewSet, SurveyViewSet

router = DefaultRouter()
router.register("model-specs", ModelSpecViewSet)
router.register("target-sets", TargetSetViewSet)
router.register("jobs", InversionJobViewSet)
router.register("iris", IRIViewSet)
router.register("studies", StudyWithResultsViewSet)
router.register("surveys", SurveyViewSet)
router.register("assignments", AssignmentViewSet)
router.register("responses", ResponseViewSet)
router.register("reports", ReportViewSet)
router.register("similarity-data", SimilarityDataViewSet)
router.register("alignment-runs", AlignmentRunViewSet)
