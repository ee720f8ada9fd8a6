"""Gate 4's dry run, the domain half: a few real steps of the project's own trainer in a
scratch folder (``plan``), the trainer as a child process with a time limit
(``process``), what its output says (``events``), what it measured (``measure``) and
what went wrong, as findings (``findings``); ``run`` ties them together. Recording
the verdict is the gate's (app/gates/dryrun.py)."""
