"""Everything that touches DynamoDB (and the S3 archive): item encodings and keys stay in here."""
