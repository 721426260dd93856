"""Research forecasters: models on inputs beyond the base five, fitted by the research protocol."""
