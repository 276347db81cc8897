"""Exchange formats at the project's edges: WCxf (Wilson coefficients) and POPxf-style polynomial predictions."""
