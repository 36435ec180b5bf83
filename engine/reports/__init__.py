"""What people read: explanations, a provision's time line, coverage."""
