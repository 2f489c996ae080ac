/* build.h — facts CMake passes at build time, with fallbacks for a build
 * without it: the version and the default schema directory. */
#ifndef AC_BUILD_H
#define AC_BUILD_H

#ifndef AC_VERSION
#define AC_VERSION "0.0.0"
#endif
#ifndef AC_SCHEMA_DIR
#define AC_SCHEMA_DIR "schemas"
#endif
#ifndef AC_PLAYBOOK_DEFAULT
#define AC_PLAYBOOK_DEFAULT "deploy/playbooks/default.yaml"
#endif

#endif
