"""Lambda entry points: thin glue (parse → evaluate → act → report) over plain code."""
