/* Guard: common/domain is pure code. This header shadows <hiredis/async.h> on the domain's
 * include path so that including it there fails the build. */
#error                                                                                             \
    "the domain library links no Kafka, Redis or HTTP code: <hiredis/async.h> belongs in common/runtime"
