/* timers.h — aftercare-timers: fires due timers (SPEC §1, §6).
 *
 * Any number of replicas may run: each round claims due timers through the
 * customers' version check (fire.h), so none fires twice, and a replica
 * killed mid-round loses nothing. Records a dead process left in an outbox
 * are produced by the sweep. */
#ifndef AC_TIMERS_H
#define AC_TIMERS_H

/* Runs the service: parses argv (--config, --set, --help, --version). Returns
 * the exit code: 0 after SIGTERM, 1 start-up error, 2 usage, 3 Redis lost data. */
int ac_timers_main(int argc, char **argv);

#endif
