/* store_lua.h — the Redis Functions library the store loads at connect.
 *
 * ac_commit_v7  KEYS: the call's key and its bucket's call index (the bucket
 *                     of the call's first customer), then per customer 3:
 *                     record, its bucket's due index and experiment counters
 *               ARGV: n, the call id, the call's bundles (per customer with
 *                     records: its id, NUL, a 4-byte big-endian length, the
 *                     records), then per customer: expected version (the 8
 *                     version bytes of the record loaded, "" for a customer
 *                     that had none, "L<decimal>" for the previous layout),
 *                     the new record, due ("" = leave the due entry, "-" =
 *                     remove it, else its new score), customer id, the length
 *                     of its bundle in the call's bundles (0 = none),
 *                     n_counters, field/by..., n_legacy_keys, key...
 *                     (previous layout only)
 *   Returns one integer per customer: 0 applied, 1 the version differs
 *   (another writer committed since the load: re-read and retry).
 *   Every version is checked first; then, before any write, the bundles of
 *   the customers that pass (all of them unless there was a conflict: the
 *   argument as it came) are written as one value under the call key, and
 *   the call id joins the bucket's call index (a sorted set) scored by
 *   Redis's time (ms); then each customer's record (SET), due entry and
 *   counters. So a call's records are one key, written and deleted once,
 *   whatever its customer count, and never pass through Lua's string
 *   building. Its writer deletes the key and the index entry (DEL, ZREM)
 *   when Kafka confirmed the records; a call older than the sweep's period
 *   (its writer died or failed) is delivered by the timer process's sweep,
 *   and a writer that replays a customer's events delivers the calls holding
 *   that customer's bundles at once.
 *
 * ac_call_done_v7  KEYS: a call's key, its call index   ARGV: the call id
 *   A call of the previous version (Redis's time, then its customers' outbox
 *   keys, NUL-separated; its index a set, <b>:oc): drops it (key and index
 *   entry) unless one of those outboxes still holds a record. Returns 1 if
 *   dropped, 0 if kept.
 *
 * ac_ack_v7  KEYS: per customer 2: outbox, its bucket's outbox index
 *           ARGV: n, then per customer: customer id, n_fields, field...
 *   The per-customer outboxes of earlier versions: removes the delivered
 *   bundles, then drops the customer from the index if its outbox is empty
 *   (and its member of the oldest layout, the state key). Returns how many
 *   index entries it dropped. Only the sweep uses it.
 *
 * ac_ewm_v7  KEYS: <prefix>:ewm   ARGV: field, event time...
 *   Raises each "<topic>:<partition>" field to the event time given, never
 *   lowers it (a rebalanced partition replays older events).
 *
 * The record's version sits at bytes 2..9 of its value (record.h), so the
 * check is a GETRANGE, not a decode. One call carries many customers
 * because the fixed cost of a call dominates a customer's work, and each
 * redis.call inside a function costs more than the command itself: the
 * per-customer work is the fewest calls that keep the commit atomic (the
 * version check, SET, the due entry). Every customer key is declared and a
 * customer's keys share its bucket's hash tag, so a call grouped by hash
 * slot stays valid on Redis Cluster (the call key then takes the slot's tag).
 */
#ifndef AC_STORE_LUA_H
#define AC_STORE_LUA_H

#define AC_STORE_LIBRARY "aftercare_v7"
#define AC_STORE_KEYS_PER_CUSTOMER 3

static const char ac_store_lua[] =
    "#!lua name=aftercare_v7\n"
    "local function commit(keys, args)\n"
    "  local out, at, n, conflicts = {}, {}, tonumber(args[1]), 0\n"
    "  -- every check first: only then is it known whose bundles the call holds\n"
    "  local i = 4\n"
    "  for c = 1, n do\n"
    "    local st, want = keys[3 * c], args[i]\n"
    "    local ok\n"
    "    if string.sub(want, 1, 1) == 'L' then\n"
    "      ok = redis.call('TYPE', st)['ok'] == 'hash' and\n"
    "        (redis.call('HGET', st, 'v') or '0') == string.sub(want, 2)\n"
    "    else\n"
    "      -- a key of another type (a writer of the previous layout): a conflict\n"
    "      local cur = redis.pcall('GETRANGE', st, 2, 9)\n"
    "      ok = type(cur) == 'string' and cur == want\n"
    "    end\n"
    "    at[c] = i\n"
    "    if ok then out[c] = 0 else out[c] = 1; conflicts = conflicts + 1 end\n"
    "    i = i + 6 + tonumber(args[i + 5]) * 2\n"
    "    i = i + 1 + tonumber(args[i])\n"
    "  end\n"
    "  local bundles = args[3]\n"
    "  if conflicts > 0 and bundles ~= '' then\n"
    "    local parts, off = {}, 1\n"
    "    for c = 1, n do\n"
    "      local len = tonumber(args[at[c] + 4])\n"
    "      if out[c] == 0 and len > 0 then parts[#parts + 1] = string.sub(bundles, off, off + len "
    "- 1) end\n"
    "      off = off + len\n"
    "    end\n"
    "    bundles = table.concat(parts)\n"
    "  end\n"
    "  -- the call registers before the first customer write: an error later\n"
    "  -- leaves no record written without its bundle delivered\n"
    "  if bundles ~= '' then\n"
    "    local t = redis.call('TIME')\n"
    "    redis.call('SET', keys[1], bundles)\n"
    "    redis.call('ZADD', keys[2], t[1] * 1000 + math.floor(t[2] / 1000), args[2])\n"
    "  end\n"
    "  for c = 1, n do\n"
    "    if out[c] == 0 then\n"
    "      local k, j = 3 * c, at[c]\n"
    "      local st, due, xc = keys[k], keys[k + 1], keys[k + 2]\n"
    "      local rec, dueat, cid = args[j + 1], args[j + 2], args[j + 3]\n"
    "      local nk = tonumber(args[j + 5]); local ks = j + 6\n"
    "      local ls = ks + nk * 2; local nl = tonumber(args[ls]); ls = ls + 1\n"
    "      if nl > 0 then\n"
    "        redis.call('DEL', st)\n"
    "        for q = ls, ls + nl - 1 do\n"
    "          local key, member = string.match(args[q], '^(.-)\\n(.*)$')\n"
    "          if key then redis.call('ZREM', key, member) else redis.call('DEL', args[q]) end\n"
    "        end\n"
    "      end\n"
    "      if rec ~= '' then redis.call('SET', st, rec) end\n"
    "      if dueat == '-' then redis.call('ZREM', due, cid)\n"
    "      elseif dueat ~= '' then redis.call('ZADD', due, dueat, cid) end\n"
    "      for q = 0, nk - 1 do\n"
    "        redis.call('HINCRBY', xc, args[ks + q * 2], args[ks + q * 2 + 1])\n"
    "      end\n"
    "    end\n"
    "  end\n"
    "  return out\n"
    "end\n"
    "local function call_done(keys, args)\n"
    "  local v = redis.call('GET', keys[1])\n"
    "  if v then\n"
    "    local first = true\n"
    "    for ob in string.gmatch(v, '[^%z]+') do\n"
    "      if not first and redis.call('EXISTS', ob) == 1 then return 0 end\n"
    "      first = false\n"
    "    end\n"
    "    redis.call('DEL', keys[1])\n"
    "  end\n"
    "  redis.call('SREM', keys[2], args[1])\n"
    "  return 1\n"
    "end\n"
    "local function ack(keys, args)\n"
    "  local i, dropped = 2, 0\n"
    "  for c = 1, tonumber(args[1]) do\n"
    "    local ob, obi = keys[2 * c - 1], keys[2 * c]\n"
    "    local cid, n = args[i], tonumber(args[i + 1])\n"
    "    local s = i + 2\n"
    "    i = s + n\n"
    "    if n > 0 then redis.call('HDEL', ob, unpack(args, s, s + n - 1)) end\n"
    "    if redis.call('EXISTS', ob) == 0 then\n"
    "      local old = string.gsub(ob, '}:o:', '}:c:', 1)\n"
    "      dropped = dropped + redis.call('SREM', obi, cid, old)\n"
    "    end\n"
    "  end\n"
    "  return dropped\n"
    "end\n"
    "local function ewm(keys, args)\n"
    "  for j = 1, #args, 2 do\n"
    "    local cur = tonumber(redis.call('HGET', keys[1], args[j]) or '-1')\n"
    "    if tonumber(args[j + 1]) > cur then redis.call('HSET', keys[1], args[j], args[j + 1]) "
    "end\n"
    "  end\n"
    "  return 0\n"
    "end\n"
    "redis.register_function('ac_commit_v7', commit)\n"
    "redis.register_function('ac_call_done_v7', call_done)\n"
    "redis.register_function('ac_ewm_v7', ewm)\n"
    "redis.register_function('ac_ack_v7', ack)\n";

#endif
