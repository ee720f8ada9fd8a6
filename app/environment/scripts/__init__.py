"""Scripts the environment check runs in a child process, possibly with another
Python than loragate's (a trainer's own virtual environment). They import nothing from
loragate, only the standard library and what they probe, and keep to syntax Python 3.8
understands. Each prints one JSON object as its last line."""
