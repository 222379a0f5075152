{#- Fails on every row where `expression` is not true. Usage:
      data_tests:
        - expression_is_true:
            arguments:
              expression: "amount >= 0"
-#}
{% test expression_is_true(model, expression, column_name=none) %}
select *
from {{ model }}
where not ({{ expression }})
{% endtest %}
