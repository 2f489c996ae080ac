/* store_lua.h — the Redis Function library (private to store.c).
 *
 * Loaded with FUNCTION LOAD REPLACE on every connect; functions persist with
 * the data (AOF/RDB), so there is no NOSCRIPT window. The library name
 * carries a version: a change of semantics gets a new name.
 *
 * ac_apply_v3  KEYS: per customer: state, applied ids, outbox (3 keys each)
 *              ARGV: n, then per customer: expected version, watermark
 *                    field, offset, trim_to, return_outbox, n_fields,
 *                    field/value..., n_ids, score/id..., n_out, id/payload...
 *   Returns one entry per customer:
 *     {1, outbox}  the watermark already covers offset: nothing changed;
 *     {2}          the version differs (another writer): re-read, retry;
 *     {0} or {0, outbox}  applied: state, version+1 and watermark (one
 *                  HSET), the applied ids (trimmed to the newest trim_to
 *                  when trim_to > 0) and the outbox records. The outbox
 *                  comes back only when return_outbox is 1 (the caller
 *                  knew of older pending records; otherwise the pending
 *                  set is exactly what it just wrote).
 *
 * Each customer's step is atomic (the whole call is). One call carries many
 * customers because the fixed cost of a call dominates the four Redis calls
 * a customer needs (HMGET, HSET, ZADD, HSET); every key is declared, so a
 * call grouped by hash slot stays valid on Redis Cluster.
 */
#ifndef AC_STORE_LUA_H
#define AC_STORE_LUA_H

#define AC_STORE_LIBRARY "aftercare_v3"

static const char ac_store_lua[] =
    "#!lua name=aftercare_v3\n"
    "local function span(dst, args, from, count)\n"
    "  for j = from, from + count - 1 do dst[#dst + 1] = args[j] end\n"
    "  return dst\n"
    "end\n"
    "local function apply(keys, args)\n"
    "  local out = {}\n"
    "  local i = 2\n"
    "  for c = 1, tonumber(args[1]) do\n"
    "    local st, seen, ob = keys[3 * c - 2], keys[3 * c - 1], keys[3 * c]\n"
    "    local want, wmf, off, trim, retob = args[i], args[i + 1], args[i + 2],\n"
    "      tonumber(args[i + 3]), args[i + 4]\n"
    "    i = i + 5\n"
    "    local nf = tonumber(args[i]); local fs = i + 1; i = fs + nf * 2\n"
    "    local ns = tonumber(args[i]); local ss = i + 1; i = ss + ns * 2\n"
    "    local no = tonumber(args[i]); local os = i + 1; i = os + no * 2\n"
    "    local cur = redis.call('HMGET', st, 'v', wmf)\n"
    "    if tonumber(cur[2] or '-1') >= tonumber(off) then\n"
    "      out[c] = {1, redis.call('HGETALL', ob)}\n"
    "    elseif (cur[1] or '0') ~= want then\n"
    "      out[c] = {2}\n"
    "    else\n"
    "      local v = tostring(tonumber(cur[1] or '0') + 1)\n"
    "      redis.call('HSET', unpack(span({st, 'v', v, wmf, off}, args, fs, nf * 2)))\n"
    "      if ns > 0 then\n"
    "        redis.call('ZADD', unpack(span({seen}, args, ss, ns * 2)))\n"
    "        if trim > 0 then redis.call('ZREMRANGEBYRANK', seen, 0, -(trim + 1)) end\n"
    "      end\n"
    "      if no > 0 then redis.call('HSET', unpack(span({ob}, args, os, no * 2))) end\n"
    "      if retob == '1' then out[c] = {0, redis.call('HGETALL', ob)} else out[c] = {0} end\n"
    "    end\n"
    "  end\n"
    "  return out\n"
    "end\n"
    "redis.register_function('ac_apply_v3', apply)\n";

#endif
