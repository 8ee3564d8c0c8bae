-- Whether an actor (user id and role) may see a user's data: an admin everyone, anyone
-- themselves, a trainer their clients. The API's access check calls it, and so does the
-- cached-confidence lookup, which authenticates a bearer token, checks access and reads
-- the cache in one statement. A plain SQL function (no SET clause, not SECURITY DEFINER)
-- so that PostgreSQL inlines it into the statement that calls it.
CREATE FUNCTION can_see_user(p_actor bigint, p_role text, p_target bigint) RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT EXISTS (
        SELECT 1 FROM users u
        WHERE u.user_id = p_target
          AND (p_role = 'admin'
               OR u.user_id = p_actor
               OR (p_role = 'trainer' AND EXISTS (
                     SELECT 1 FROM trainer_clients tc
                     WHERE tc.client_id = u.user_id AND tc.trainer_id = p_actor))))
$$;
