"""Everything that touches DynamoDB."""
