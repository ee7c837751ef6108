"""Getting digests out: who is due when, delivery rounds, send rates, gone and moved chats."""
