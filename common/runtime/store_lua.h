/* store_lua.h — the Redis Function library (private to store.c).
 *
 * Loaded with FUNCTION LOAD REPLACE on every connect; functions persist with
 * the data (AOF/RDB), so there is no NOSCRIPT window. The library name
 * carries a version: a change of semantics gets a new name.
 *
 * ac_apply_v4  KEYS: per customer 8: state, applied ids, outbox, timers,
 *                    then its bucket's due index, outbox index, experiment
 *                    counters, and the customer's audit trail
 *              ARGV: n, then per customer: expected version, watermark
 *                    field ("" = none: the timer process), offset, trim_to,
 *                    return_outbox, n_fields, field/value..., n_ids,
 *                    score/id..., n_out, id/payload..., n_timers,
 *                    id/due/member/json..., n_removed, id/member...,
 *                    n_audit, entry..., n_counters, field/by...
 *   Returns one entry per customer:
 *     {1, outbox}  the watermark already covers offset: nothing changed;
 *     {2}          the version differs (another writer): re-read, retry;
 *     {0} or {0, outbox}  applied: state, version+1 and watermark (one
 *                  HSET), the applied ids (trimmed to the newest trim_to
 *                  when trim_to > 0), the outbox records (and the customer
 *                  in its bucket's outbox index), the timers written and
 *                  removed (hash and due index together), the audit
 *                  entries (the newest 100 kept) and the counters. The
 *                  outbox comes back only when return_outbox is 1.
 *
 * The outbox index holds the state keys of customers with records in their
 * outbox (a hint: an entry may outlive its records, never the reverse).
 *
 * ac_ack_v4  KEYS: per customer 2: outbox, its bucket's outbox index
 *           ARGV: n, then per customer: state key, n_ids, id...
 *   Removes the delivered records, then drops the customer from the index
 *   if its outbox is empty. Returns how many index entries it dropped.
 *
 * Each customer's step is atomic (the whole call is). One call carries many
 * customers because the fixed cost of a call dominates a customer's work;
 * every key is declared and a customer's keys share its bucket's hash tag,
 * so a call grouped by hash slot stays valid on Redis Cluster.
 */
#ifndef AC_STORE_LUA_H
#define AC_STORE_LUA_H

#define AC_STORE_LIBRARY "aftercare_v4"
#define AC_STORE_KEYS_PER_CUSTOMER 8
#define AC_STORE_AUDIT_KEEP 100

static const char ac_store_lua[] =
    "#!lua name=aftercare_v4\n"
    "local function span(dst, args, from, count)\n"
    "  for j = from, from + count - 1 do dst[#dst + 1] = args[j] end\n"
    "  return dst\n"
    "end\n"
    "-- cmd key args[from .. from+count-1], in calls of at most 1000 values\n"
    "-- (unpack has a limit); step keeps pairs together\n"
    "local function chunked(cmd, key, args, from, count)\n"
    "  local j = 0\n"
    "  while j < count do\n"
    "    local n = math.min(1000, count - j)\n"
    "    redis.call(cmd, key, unpack(args, from + j, from + j + n - 1))\n"
    "    j = j + n\n"
    "  end\n"
    "end\n"
    "local function apply(keys, args)\n"
    "  local out = {}\n"
    "  local i = 2\n"
    "  for c = 1, tonumber(args[1]) do\n"
    "    local k = 8 * (c - 1)\n"
    "    local st, seen, ob, tm = keys[k + 1], keys[k + 2], keys[k + 3], keys[k + 4]\n"
    "    local due, obi, xc, au = keys[k + 5], keys[k + 6], keys[k + 7], keys[k + 8]\n"
    "    local want, wmf, off, trim, retob = args[i], args[i + 1], args[i + 2],\n"
    "      tonumber(args[i + 3]), args[i + 4]\n"
    "    i = i + 5\n"
    "    local nf = tonumber(args[i]); local fs = i + 1; i = fs + nf * 2\n"
    "    local ns = tonumber(args[i]); local ss = i + 1; i = ss + ns * 2\n"
    "    local no = tonumber(args[i]); local os = i + 1; i = os + no * 2\n"
    "    local nt = tonumber(args[i]); local ts = i + 1; i = ts + nt * 4\n"
    "    local nr = tonumber(args[i]); local rs = i + 1; i = rs + nr * 2\n"
    "    local na = tonumber(args[i]); local as = i + 1; i = as + na\n"
    "    local nk = tonumber(args[i]); local ks = i + 1; i = ks + nk * 2\n"
    "    local cur\n"
    "    if wmf == '' then cur = {redis.call('HGET', st, 'v'), false}\n"
    "    else cur = redis.call('HMGET', st, 'v', wmf) end\n"
    "    if wmf ~= '' and tonumber(cur[2] or '-1') >= tonumber(off) then\n"
    "      out[c] = {1, redis.call('HGETALL', ob)}\n"
    "    elseif (cur[1] or '0') ~= want then\n"
    "      out[c] = {2}\n"
    "    else\n"
    "      local v = tostring(tonumber(cur[1] or '0') + 1)\n"
    "      local head = {st, 'v', v}\n"
    "      if wmf ~= '' then head[4] = wmf; head[5] = off end\n"
    "      redis.call('HSET', unpack(span(head, args, fs, nf * 2)))\n"
    "      if ns > 0 then\n"
    "        chunked('ZADD', seen, args, ss, ns * 2)\n"
    "        if trim > 0 then redis.call('ZREMRANGEBYRANK', seen, 0, -(trim + 1)) end\n"
    "      end\n"
    "      if no > 0 then\n"
    "        chunked('HSET', ob, args, os, no * 2)\n"
    "        redis.call('SADD', obi, st)\n"
    "      end\n"
    "      if nt > 0 then\n"
    "        local h, z = {tm}, {due}\n"
    "        for j = 0, nt - 1 do\n"
    "          local b = ts + j * 4\n"
    "          h[#h + 1] = args[b]; h[#h + 1] = args[b + 3]\n"
    "          z[#z + 1] = args[b + 1]; z[#z + 1] = args[b + 2]\n"
    "        end\n"
    "        redis.call('HSET', unpack(h))\n"
    "        redis.call('ZADD', unpack(z))\n"
    "      end\n"
    "      if nr > 0 then\n"
    "        local h, z = {tm}, {due}\n"
    "        for j = 0, nr - 1 do\n"
    "          local b = rs + j * 2\n"
    "          h[#h + 1] = args[b]; z[#z + 1] = args[b + 1]\n"
    "        end\n"
    "        redis.call('HDEL', unpack(h))\n"
    "        redis.call('ZREM', unpack(z))\n"
    "      end\n"
    "      if na > 0 then\n"
    "        redis.call('LPUSH', unpack(span({au}, args, as, na)))\n"
    "        redis.call('LTRIM', au, 0, 99)\n"
    "      end\n"
    "      for j = 0, nk - 1 do\n"
    "        redis.call('HINCRBY', xc, args[ks + j * 2], args[ks + j * 2 + 1])\n"
    "      end\n"
    "      if retob == '1' then out[c] = {0, redis.call('HGETALL', ob)} else out[c] = {0} end\n"
    "    end\n"
    "  end\n"
    "  return out\n"
    "end\n"
    "local function ack(keys, args)\n"
    "  local i, dropped = 2, 0\n"
    "  for c = 1, tonumber(args[1]) do\n"
    "    local ob, obi = keys[2 * c - 1], keys[2 * c]\n"
    "    local st, n = args[i], tonumber(args[i + 1])\n"
    "    local s = i + 2\n"
    "    i = s + n\n"
    "    if n > 0 then chunked('HDEL', ob, args, s, n) end\n"
    "    if redis.call('HLEN', ob) == 0 then\n"
    "      dropped = dropped + redis.call('SREM', obi, st)\n"
    "    end\n"
    "  end\n"
    "  return dropped\n"
    "end\n"
    "redis.register_function('ac_apply_v4', apply)\n"
    "redis.register_function('ac_ack_v4', ack)\n";

#endif
