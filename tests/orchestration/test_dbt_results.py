"""Whether a dbt build rebuilt every model, from the results it wrote (or did not write)."""

import json

from orchestration.defs.dbt.assets import RUN_RESULTS, every_model_built, models_out_of_sync


def results(target, *nodes):
    (target / RUN_RESULTS).write_text(
        json.dumps(
            {
                "results": [
                    {
                        "unique_id": node[0],
                        "status": node[1],
                        "message": node[2] if len(node) > 2 else None,
                    }
                    for node in nodes
                ]
            }
        )
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


OUT_OF_SYNC = (
    "Compilation Error in model int_event_ids (models/intermediate/int_event_ids.sql)\n"
    "  The source and target schemas on this incremental model are out of sync!"
)


def test_the_models_refused_for_changed_columns_are_named(tmp_path):
    assert models_out_of_sync(tmp_path) == []  # no results at all
    results(
        tmp_path,
        ("model.tally.int_usage_daily", "success", None),
        ("model.tally.int_event_ids", "error", OUT_OF_SYNC),
        ("model.tally.fct_invoices", "error", "Runtime Error: division by zero"),
        ("model.tally.int_event_id_repeats", "skipped", None),
    )
    assert models_out_of_sync(tmp_path) == ["int_event_ids"]
