"""Foresight's tables: each fit of the model (ModelRun) and each client's latest prediction (ClientPrediction)."""

from __future__ import annotations

from django.db import models

from customers.models import Customer


class Method(models.TextChoices):
    MODEL = "model", "BG/NBD and Gamma-Gamma model"
    RFM = "rfm", "RFM estimate (too little data for the model)"


class ChurnBand(models.TextChoices):
    LOW = "low", "Low"
    MEDIUM = "medium", "Medium"
    HIGH = "high", "High"


class ModelRun(models.Model):
    """One fit of the foresight model, with everything needed to compare two fits.

    `eligibility` says whether the house's data were enough for the model (repeat buyers, history length) and what
    was missing; when they were not, `method` is the RFM fallback and the parameters are empty. `calibration` holds,
    per decile of predicted purchases, what a fit that did not see the last INSIGHT_HOLDOUT_MONTHS predicted for them
    and what the clients actually bought.
    """

    created_at = models.DateTimeField(auto_now_add=True)
    observed_until = models.DateTimeField(help_text="Purchases up to this moment were seen by the fit.")
    method = models.CharField(max_length=8, choices=Method.choices)
    is_eligible = models.BooleanField(default=False)
    eligibility = models.JSONField(default=dict, blank=True)
    purchase_params = models.JSONField(default=dict, blank=True, help_text="BG/NBD: r, alpha (days), a, b.")
    spend_params = models.JSONField(default=dict, blank=True, help_text="Gamma-Gamma: p, q, gamma.")
    diagnostics = models.JSONField(default=dict, blank=True)
    holdout_months = models.PositiveSmallIntegerField(default=0)
    calibration = models.JSONField(default=list, blank=True)
    clients = models.PositiveIntegerField(default=0)
    fit_seconds = models.FloatField(default=0)
    scored_at = models.DateTimeField(null=True, blank=True)
    scored_clients = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-created_at", "-pk"]
        get_latest_by = ["created_at", "pk"]

    def __str__(self) -> str:
        return f"Foresight run {self.pk} ({self.get_method_display()}, {self.created_at:%Y-%m-%d %H:%M})"


class ClientPrediction(models.Model):
    """A client's latest prediction: the chance they still buy from the house, what they are expected to buy, and the
    facts the page puts in words. Rewritten for every client by each daily scoring, in one set-based statement."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="predictions")
    run = models.ForeignKey(ModelRun, on_delete=models.CASCADE, related_name="predictions")
    method = models.CharField(max_length=8, choices=Method.choices)
    scored_at = models.DateTimeField()
    probability_alive = models.FloatField()
    expected_purchases_90 = models.FloatField()
    expected_purchases_365 = models.FloatField()
    # In the house currency (HOUSE_CURRENCY); the interval is absent for the RFM estimate, which has none.
    predicted_value_12m = models.DecimalField(max_digits=14, decimal_places=2)
    value_low = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    value_high = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    churn_band = models.CharField(max_length=8, choices=ChurnBand.choices)
    purchase_days = models.PositiveIntegerField(help_text="Days with a net purchase (several orders a day count once).")
    typical_gap_days = models.FloatField(null=True, blank=True, help_text="Mean days between purchase days.")
    first_purchase_on = models.DateField()
    last_purchase_on = models.DateField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["customer"], name="clientprediction_one_per_client"),
            models.CheckConstraint(
                condition=models.Q(probability_alive__gte=0, probability_alive__lte=1),
                name="clientprediction_probability_in_range",
            ),
        ]
        indexes = [models.Index(fields=["churn_band", "-predicted_value_12m"], name="clientprediction_band_idx")]

    def __str__(self) -> str:
        return f"Prediction for client {self.customer_id} (run {self.run_id})"
