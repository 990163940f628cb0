"""Finding the plan design: objectives and constraints over the metrics model, searched over the levers.

An analyst states what to minimize or maximize (a metric of fct_year_metrics, over
the years and the seeds of an ensemble), which constraints must hold (also chance
constraints: the share of seeds where a flag is set, or a percentile), and which
levers may move within which ranges; a study searches the designs with Optuna (TPE
for one objective, NSGA-II for several), evaluates each as a scenario's seed
ensemble, and keeps every trial in a journal file beside the database, so it stops
and resumes. `spec` parses and checks what is asked, `space` turns levers into the
search space, `evaluate` turns a design's per-seed metrics into objective values and
constraint slack, `study` runs the search and `result` is what comes back.
"""
