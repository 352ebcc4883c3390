-- Send-time checks, bounces and complaints find preference rows by address regardless of case.
CREATE INDEX email_preferences_lower_email_idx ON email_preferences (lower(email));
