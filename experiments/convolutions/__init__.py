"""§4 Convolutions."""
