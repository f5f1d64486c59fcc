{#- Every finding is one the check catalog (seeds/check_catalog.csv) names, with its severity:
    a new finding must be catalogued, so the Dagster checks and the README know it. -#}
{% test matches_catalog(model, catalog) %}
select m.check_name, m.severity
from {{ model }} as m
left join {{ catalog }} as c
    on m.check_name = c.finding
    and m.severity = c.severity
where c.finding is null
{% endtest %}
