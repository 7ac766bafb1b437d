"""Foresight in the admin: each run (what the fit found, how well it was calibrated, what the data lacked) and each
client's prediction. Read only: runs and predictions are written by the beat tasks alone."""

from __future__ import annotations

from django.contrib import admin
from django.utils.html import format_html, format_html_join

from customers.models import Customer
from insight.models import ClientPrediction, ModelRun


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(ModelRun)
class ModelRunAdmin(ReadOnlyAdmin):
    list_display = ["__str__", "method", "is_eligible", "clients", "scored_clients", "fit_seconds", "what_is_missing"]
    list_filter = ["method", "is_eligible"]
    fields = [
        "created_at", "observed_until", "method", "is_eligible", "what_is_missing", "eligibility_figures",
        "purchase_params", "spend_params", "calibration_table", "diagnostics", "holdout_months", "clients",
        "fit_seconds", "scored_at", "scored_clients",
    ]
    readonly_fields = fields

    @admin.display(description="What the model lacks")
    def what_is_missing(self, run: ModelRun) -> str:
        missing = run.eligibility.get("missing") or []
        return "; ".join(missing) if missing else "Nothing: the model is used"

    @admin.display(description="Eligibility")
    def eligibility_figures(self, run: ModelRun) -> str:
        figures = run.eligibility
        if not figures:
            return "—"
        return (f"{figures.get('repeat_buyers')} repeat buyers (needs {figures.get('required_repeat_buyers')}); "
                f"{figures.get('history_days')} days of history (needs {figures.get('required_history_days')})")

    @admin.display(description="Calibration (holdout)")
    def calibration_table(self, run: ModelRun) -> str:
        if not run.calibration:
            return run.diagnostics.get("calibration_note") or "No calibration for this run."
        rows = format_html_join(
            "", "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            ((row["decile"], row["clients"], f"{row['predicted']:.3f}", f"{row['actual']:.3f}")
             for row in run.calibration),
        )
        return format_html(
            "<table><thead><tr><th>Decile</th><th>Clients</th><th>Predicted purchases</th>"
            "<th>Actual purchases</th></tr></thead><tbody>{}</tbody></table>"
            "<p>Per client, over the {} months the fit did not see.</p>",
            rows, run.holdout_months,
        )


@admin.register(ClientPrediction)
class ClientPredictionAdmin(ReadOnlyAdmin):
    list_display = ["customer", "method", "churn_band", "probability_alive", "expected_purchases_365",
                    "predicted_value_12m", "scored_at"]
    list_filter = ["churn_band", "method"]
    list_select_related = ["customer", "run"]
    raw_id_fields = ["customer", "run"]
    show_full_result_count = False

    def get_queryset(self, request):
        # The predictions of the clients this staff member may see, by the one visibility rule.
        return super().get_queryset(request).filter(customer__in=Customer.objects.visible_to(request.user))
