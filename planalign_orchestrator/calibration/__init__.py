"""Assumptions from a plan's own history: census histories, experience studies, fits and backtests.

    history     dated censuses read, validated (file and row named) and matched by id
    expected    what the current config expects of the same people (the model's hazards)
    statistics  intervals, credibility and the Poisson fit the study and the fit share
    study       actual vs expected by tenure band, age band and level (ExperienceStudy)
    fit         fitted overrides, with intervals and the data behind them (FitResult)
    scoring     a year's figures from snapshot rows, the same for history and simulation
    backtest    a run from one snapshot to the last, scored year by year (BacktestResult)
    generator   a census history simulated from known assumptions (the tests' ground truth)

It sits below the session (the one door) and above the engine it runs (factory,
pipeline): a face reaches it only through WorkspaceSession.
"""
