"""Month close: issue the period's invoices into the immutable issued store.

The close reads the computed invoices and lines with the adjustments carried onto them
(int_invoices_with_adjustments, int_invoice_lines). Those depend on the issued store of
earlier months, which this asset writes, so only the rated inputs are declared as upstream:
per month there is no cycle, but Dagster's asset graph cannot say "earlier partitions".
"""

import datetime as dt

import dagster as dg

from lake.issued import is_issued, issue_month
from orchestration.settings import TallySettings
from publish.documents import write_documents
from transforms.close import audit_refusal, why_not_close
from warehouse.closing import ENDING_IN, HomeToClose, ending_in
from warehouse.findings import audit_findings
from warehouse.reading import reading

# The issued store's assets: what month close writes.
ISSUED = (
    "issued_invoices",
    "issued_invoice_lines",
    "issued_invoice_items",
    "issued_credit_consumption",
    "issued_credit_rollovers",
    "issued_credit_topups",
)


def issue_invoices(partitions: dg.PartitionsDefinition) -> dg.AssetsDefinition:
    """Month close's asset over the monthly `partitions` (orchestration/defs/partitions.py)."""
    return dg.multi_asset(
        specs=[
            dg.AssetSpec(
                "issued_invoices",
                group_name="billing",
                deps=["int_invoices_computed", "audit_lake"],
                description="Invoices of closed months, issued once and never changed afterwards.",
            ),
            dg.AssetSpec(
                "issued_invoice_lines",
                group_name="billing",
                deps=["int_invoice_lines_rated"],
                description="Lines of issued invoices, frozen with them.",
            ),
            dg.AssetSpec(
                "issued_invoice_items",
                group_name="billing",
                deps=["int_invoice_lines_rated"],
                description="Issued invoices as items, after their coupons and with their taxes, frozen with them.",
            ),
            dg.AssetSpec(
                "issued_credit_consumption",
                group_name="billing",
                deps=["int_invoices_computed", "credit_grants"],
                description="Prepaid credits applied to issued invoices at close, in burn order.",
            ),
            dg.AssetSpec(
                "issued_credit_rollovers",
                group_name="billing",
                deps=["credit_grants"],
                description=(
                    "Grants settled at close: credits carried to a recurring grant's next "
                    "instance and credits expired beyond a rollover cap."
                ),
            ),
            dg.AssetSpec(
                "issued_credit_topups",
                group_name="billing",
                deps=["credit_grants"],
                description=(
                    "Automatic top-ups made at close as balances reached their threshold: "
                    "credits granted, for the payment system to charge."
                ),
            ),
        ],
        name="issue_invoices",
        partitions_def=partitions,
        pool="warehouse",
    )(_issue_invoices)


def _issue_invoices(context: dg.AssetExecutionContext, settings: TallySettings):
    home = settings.tally_home
    month = dt.date.fromisoformat(context.partition_key[:10])
    if not is_issued(home, month):
        today = dt.datetime.now(dt.UTC).date()
        refusal = why_not_close(HomeToClose(home), month, today) or audit_refusal(
            month, audit_findings(home)
        )
        if refusal:
            raise dg.Failure(description=refusal.reason)
    # Every open invoice whose period's last day is in the month.
    with reading(home) as warehouse:
        invoices = warehouse.frame(
            f"select * from intermediate.int_invoices_with_adjustments where {ENDING_IN}",
            **ending_in(month),
        )
        lines = warehouse.frame(
            f"select * from intermediate.int_invoice_lines where {ENDING_IN}", **ending_in(month)
        )
        items = warehouse.frame(
            "select * from intermediate.int_invoice_items where invoice_status = 'draft' "
            "and invoice_id in (select invoice_id from intermediate.int_invoices_with_adjustments "
            f"where {ENDING_IN})",
            **ending_in(month),
        )
    result = issue_month(
        home,
        month,
        invoices,
        lines,
        now=dt.datetime.now(dt.UTC),
        payment_terms_days=settings.payment_terms_days,
        items=items,
    )
    # From the committed store; a document already written is never rewritten.
    documents = write_documents(home, month)
    if result.already_issued:
        context.log.info(f"{month:%Y-%m} was already issued; issued invoices never change")
    elif result.invoices == 0:
        context.log.info(f"{month:%Y-%m} has no invoice to issue: nothing issued or recorded")
    else:
        context.log.info(
            f"issued {result.invoices} invoices for {month:%Y-%m}, total {result.total}"
        )
    yield dg.MaterializeResult(
        asset_key="issued_invoices",
        metadata={
            "invoices": result.invoices,
            "total": str(result.total),
            "already_issued": result.already_issued,
            "documents_written": documents,
        },
    )
    yield dg.MaterializeResult(asset_key="issued_invoice_lines", metadata={"lines": lines.height})
    yield dg.MaterializeResult(asset_key="issued_invoice_items", metadata={"items": items.height})
    yield dg.MaterializeResult(
        asset_key="issued_credit_consumption",
        metadata={"credits_applied": str(result.credits_applied)},
    )
    yield dg.MaterializeResult(asset_key="issued_credit_rollovers")
    yield dg.MaterializeResult(asset_key="issued_credit_topups")
