"""Order fulfillment: a YAML-defined saga over inventory, payment and shipping."""
