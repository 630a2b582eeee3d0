"""Rules: the pure core of the loyalty engine (DESIGN §6a).

- `facts`: what a rule may ask about an event and its customer (`Facts`, the fact table);
- `conditions`: the condition language, parsed strictly once, evaluated against `Facts`;
- `rates`: exact rate arithmetic (an amount times `rate_bps`, rounded by an explicit mode);
- `actions`: the action table (model, planner, example per action type) and `plan`;
- `effects`: the immutable values a plan returns for the shell to apply;
- `engine`: which rules run for an event, in which order, and what they ask for;
- `tiers`: which tier status points buy, tier changes and the internal events they raise;
- `catalog`: the rule builder's catalog, generated from the same tables that validate.

Nothing here does I/O or reads a clock: the shell reads the snapshot inside the writer
transaction, calls `engine.run`, and applies the returned effects in that transaction.
Errors are data (`problems.Problem`), never "matches everything".
"""
