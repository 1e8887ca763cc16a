-- Run inside the restore's transaction when production data is restored into another
-- environment (docs/deployment/backups.md, "What is anonymised"). Aletheia stores no patient data:
-- its personal data are the staff accounts, their sessions and the admin's action log.
-- The restore sets search_path to '' : every name is schema-qualified.
UPDATE public.auth_user SET
    username = 'user' || id,
    first_name = '',
    last_name = '',
    email = 'user' || id || '@example.invalid',
    password = '!anonymised',
    last_login = NULL;
TRUNCATE public.django_session;
TRUNCATE public.django_admin_log;
