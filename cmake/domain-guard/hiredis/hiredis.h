/* Guard: common/domain is pure code. This header shadows <hiredis/hiredis.h> on the domain's
 * include path so that including it there fails the build. */
#error                                                                                             \
    "the domain library links no Kafka, Redis or HTTP code: <hiredis/hiredis.h> belongs in common/runtime"
