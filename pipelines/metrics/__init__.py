"""Per-customer figures computed from the warehouse (orders, engagement, first sight)."""
