"""The external services we talk to, one module each: their variables, error meanings and the one
client builder every caller (ingest connector, score sync, alert channel) uses."""
