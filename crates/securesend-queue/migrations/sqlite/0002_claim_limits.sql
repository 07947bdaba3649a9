-- A claim counts a profile's running jobs against its in-flight cap; stats count recent sends.
CREATE INDEX jobs_running_profile ON jobs (profile, lease_until) WHERE state = 'running';
CREATE INDEX job_events_sent ON job_events (at) WHERE event = 'sent';
