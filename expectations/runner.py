"""Run a suite over a Polars DataFrame in an ephemeral GX context (no files, no network)."""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl


@dataclass(frozen=True)
class SuiteResult:
    suite: str
    success: bool
    evaluated: int
    failed: list[str]  # one line per failed expectation: type, column, unexpected count

    @property
    def summary(self) -> str:
        if self.success:
            return f"{self.suite}: all {self.evaluated} expectations met"
        return f"{self.suite}: {len(self.failed)} of {self.evaluated} failed: " + "; ".join(
            self.failed
        )


def validate(df: pl.DataFrame, suite_name: str, expectations: list) -> SuiteResult:
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    # Progress bars would go to the terminal of `tally run`; results are reported by the check.
    context.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
    batch = (
        context.data_sources.add_pandas(f"{suite_name}_source")
        .add_dataframe_asset(f"{suite_name}_frame")
        .add_batch_definition_whole_dataframe("whole")
    )
    suite = context.suites.add(gx.ExpectationSuite(name=suite_name, expectations=expectations))
    definition = context.validation_definitions.add(
        gx.ValidationDefinition(name=f"{suite_name}_validation", data=batch, suite=suite)
    )
    result = definition.run(
        batch_parameters={"dataframe": df.to_pandas(use_pyarrow_extension_array=True)}
    )
    failed = []
    for r in result.results:
        if not r.success:
            cfg = r.expectation_config
            unexpected = (r.result or {}).get("unexpected_count")
            failed.append(f"{cfg.type}({cfg.kwargs.get('column', '')}) unexpected={unexpected}")
    return SuiteResult(suite_name, bool(result.success), len(result.results), failed)
