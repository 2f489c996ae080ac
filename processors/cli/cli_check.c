/* cli_check.c — `aftercare check PLAYBOOK...`: validates playbooks without
 * starting anything. Every error goes to stderr as file:line:column: message;
 * a valid playbook prints "PLAYBOOK: ok (N rules)" on stdout. Exit 0 if all
 * are valid, 1 if any is not, 2 on a usage error. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "playbook.h"

static void check_usage(FILE *out)
{
    fprintf(out, "usage: aftercare check PLAYBOOK...\n\n"
                 "Validates each playbook (see deploy/playbooks/README.md): prints every error as\n"
                 "file:line:column: message on stderr, or 'PLAYBOOK: ok (N rules)' on stdout.\n"
                 "Exit status: 0 all valid, 1 an error, 2 usage.\n");
}

static void check_print(const struct ac_pb_diag *diag, void *opaque)
{
    size_t *n = opaque;
    fprintf(stderr, "%s\n", diag->text);
    (*n)++;
}

int cli_check(int argc, char **argv)
{
    int rc = 0;
    int files = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            check_usage(stdout);
            return 0;
        }
        if (argv[i][0] == '-' && argv[i][1] != '\0') {
            fprintf(stderr, "aftercare check: unknown option '%s'\n\n", argv[i]);
            check_usage(stderr);
            return 2;
        }
    }
    for (int i = 1; i < argc; i++) {
        size_t errors = 0;
        files++;
        struct ac_playbook *pb = ac_playbook_load(argv[i], check_print, &errors);
        if (!pb) {
            rc = 1;
            continue;
        }
        printf("%s: ok (%zu rules)\n", argv[i], ac_playbook_rule_count(pb));
        ac_playbook_destroy(pb);
    }
    if (files == 0) {
        check_usage(stderr);
        return 2;
    }
    return rc;
}
