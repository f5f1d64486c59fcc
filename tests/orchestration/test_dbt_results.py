"""Whether a dbt build rebuilt every model, from the results it wrote (or did not write)."""

import json

from orchestration.defs.dbt.assets import RUN_RESULTS, every_model_built


def results(target, *nodes):
    (target / RUN_RESULTS).write_text(
        json.dumps({"results": [{"unique_id": u, "status": s} for u, s in nodes]})
    )


def test_a_build_whose_models_all_succeeded_counts_even_if_a_test_failed(tmp_path):
    results(tmp_path, ("model.tally.fct_invoices", "success"), ("test.tally.not_null", "fail"))
    assert every_model_built(tmp_path)


def test_a_build_with_a_failed_model_does_not_count(tmp_path):
    results(tmp_path, ("model.tally.fct_invoices", "success"), ("model.tally.rec", "error"))
    assert not every_model_built(tmp_path)


def test_dbt_stopping_before_any_result_is_not_a_build(tmp_path):
    assert not every_model_built(tmp_path)  # a project that does not parse writes none
    results(tmp_path)
    assert not every_model_built(tmp_path)
