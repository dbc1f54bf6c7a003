"""`curate tokenize`: documents to token ids in fixed-size .bin shards with Megatron .idx indexes."""
