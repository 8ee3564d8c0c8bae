"""Views' API, dashboard data, Prometheus metrics and the admin page."""
