"""The public API as JSON over HTTP (AIP-127), mapped from the protos' ``google.api.http`` rules."""
