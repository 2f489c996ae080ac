/* store_lua.h — the Redis Function library (private to store.c).
 *
 * Loaded with FUNCTION LOAD REPLACE on every connect; functions persist with
 * the data (AOF/RDB), so there is no NOSCRIPT window. The library name
 * carries a version: a change of semantics gets a new name.
 *
 * ac_apply_v1  KEYS: state, seen, outbox, bucket index
 *              ARGV: customer_id, expected version, watermark field, offset,
 *                    now_ms, seen_cap, n_fields, field/value..., n_seen,
 *                    score/id..., n_out, id/payload...
 *   If the watermark already covers offset: changes nothing, returns
 *   {1, outbox}. If the version differs: returns {2} (re-read, retry).
 *   Else applies everything and returns {0, outbox}.
 * ac_ack_v1    KEYS: outbox, bucket index   ARGV: customer_id, ids...
 *   Removes delivered records; drops the index entry when the outbox empties.
 */
#ifndef AC_STORE_LUA_H
#define AC_STORE_LUA_H

#define AC_STORE_LIBRARY "aftercare_v1"

static const char ac_store_lua[] =
    "#!lua name=aftercare_v1\n"
    "local function apply(keys, args)\n"
    "  local st, seen, ob, idx = keys[1], keys[2], keys[3], keys[4]\n"
    "  local off = tonumber(args[4])\n"
    "  local wm = tonumber(redis.call('HGET', st, args[3]) or '-1')\n"
    "  if wm >= off then return {1, redis.call('HGETALL', ob)} end\n"
    "  local ver = redis.call('HGET', st, 'v') or '0'\n"
    "  if ver ~= args[2] then return {2} end\n"
    "  local i = 7\n"
    "  local nf = tonumber(args[i]); i = i + 1\n"
    "  local hs = {st, 'v', tostring(tonumber(ver) + 1), args[3], args[4]}\n"
    "  for j = 1, nf * 2 do hs[#hs + 1] = args[i]; i = i + 1 end\n"
    "  redis.call('HSET', unpack(hs))\n"
    "  local ns = tonumber(args[i]); i = i + 1\n"
    "  if ns > 0 then\n"
    "    local z = {seen}\n"
    "    for j = 1, ns * 2 do z[#z + 1] = args[i]; i = i + 1 end\n"
    "    redis.call('ZADD', unpack(z))\n"
    "    redis.call('ZREMRANGEBYRANK', seen, 0, -(tonumber(args[6]) + 1))\n"
    "  end\n"
    "  local no = tonumber(args[i]); i = i + 1\n"
    "  if no > 0 then\n"
    "    local h = {ob}\n"
    "    for j = 1, no * 2 do h[#h + 1] = args[i]; i = i + 1 end\n"
    "    redis.call('HSET', unpack(h))\n"
    "    redis.call('ZADD', idx, 'NX', args[5], args[1])\n"
    "  end\n"
    "  return {0, redis.call('HGETALL', ob)}\n"
    "end\n"
    "local function ack(keys, args)\n"
    "  if #args > 1 then\n"
    "    local h = {keys[1]}\n"
    "    for j = 2, #args do h[#h + 1] = args[j] end\n"
    "    redis.call('HDEL', unpack(h))\n"
    "  end\n"
    "  if redis.call('EXISTS', keys[1]) == 0 then redis.call('ZREM', keys[2], args[1]) end\n"
    "  return 0\n"
    "end\n"
    "redis.register_function('ac_apply_v1', apply)\n"
    "redis.register_function('ac_ack_v1', ack)\n";

#endif
