/* store_lua.h — the Redis Function library (private to store.c).
 *
 * Loaded with FUNCTION LOAD REPLACE on every connect; functions persist with
 * the data (AOF/RDB), so there is no NOSCRIPT window. The library name
 * carries a version: a change of semantics gets a new name.
 *
 * ac_apply_v2  KEYS: state, applied ids, outbox
 *              ARGV: expected version, watermark field, offset, trim_to,
 *                    return_outbox, n_fields, field/value..., n_ids,
 *                    score/id..., n_out, id/payload...
 *   If the watermark already covers offset: changes nothing, returns
 *   {1, outbox}. If the version differs: returns {2} (re-read, retry).
 *   Else writes state, version+1 and watermark (one HSET), the applied ids
 *   (trimmed to the newest trim_to when trim_to > 0) and the outbox records,
 *   and returns {0} — or {0, outbox} when return_outbox is 1 (the caller
 *   knew of older pending records; otherwise the pending set is exactly
 *   what it just wrote, and sending it back would be wasted bytes).
 *
 * Four Redis calls on the common path: HMGET, HSET, ZADD, HSET. Every call
 * inside a function costs about a microsecond, and its effect is also
 * written to the AOF: fewer calls is the main lever on throughput.
 */
#ifndef AC_STORE_LUA_H
#define AC_STORE_LUA_H

#define AC_STORE_LIBRARY "aftercare_v2"

static const char ac_store_lua[] =
    "#!lua name=aftercare_v2\n"
    "local function apply(keys, args)\n"
    "  local st, seen, ob = keys[1], keys[2], keys[3]\n"
    "  local cur = redis.call('HMGET', st, 'v', args[2])\n"
    "  if tonumber(cur[2] or '-1') >= tonumber(args[3]) then\n"
    "    return {1, redis.call('HGETALL', ob)}\n"
    "  end\n"
    "  local ver = cur[1] or '0'\n"
    "  if ver ~= args[1] then return {2} end\n"
    "  local i = 6\n"
    "  local nf = tonumber(args[i]); i = i + 1\n"
    "  local hs = {st, 'v', tostring(tonumber(ver) + 1), args[2], args[3]}\n"
    "  for j = 1, nf * 2 do hs[#hs + 1] = args[i]; i = i + 1 end\n"
    "  redis.call('HSET', unpack(hs))\n"
    "  local ns = tonumber(args[i]); i = i + 1\n"
    "  if ns > 0 then\n"
    "    local z = {seen}\n"
    "    for j = 1, ns * 2 do z[#z + 1] = args[i]; i = i + 1 end\n"
    "    redis.call('ZADD', unpack(z))\n"
    "    local trim = tonumber(args[4])\n"
    "    if trim > 0 then redis.call('ZREMRANGEBYRANK', seen, 0, -(trim + 1)) end\n"
    "  end\n"
    "  local no = tonumber(args[i]); i = i + 1\n"
    "  if no > 0 then\n"
    "    local h = {ob}\n"
    "    for j = 1, no * 2 do h[#h + 1] = args[i]; i = i + 1 end\n"
    "    redis.call('HSET', unpack(h))\n"
    "  end\n"
    "  if args[5] == '1' then return {0, redis.call('HGETALL', ob)} end\n"
    "  return {0}\n"
    "end\n"
    "redis.register_function('ac_apply_v2', apply)\n";

#endif
