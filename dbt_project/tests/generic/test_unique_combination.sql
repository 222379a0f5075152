{#- Fails for every combination of `columns` that occurs more than once. Usage:
      data_tests:
        - unique_combination:
            arguments:
              columns: [rep_id, period_month]
-#}
{% test unique_combination(model, columns) %}
select {{ columns | join(', ') }}, count(*) as occurrences
from {{ model }}
group by {{ columns | join(', ') }}
having count(*) > 1
{% endtest %}
