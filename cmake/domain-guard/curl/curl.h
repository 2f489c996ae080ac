/* Guard: common/domain is pure code. This header shadows <curl/curl.h> on the domain's
 * include path so that including it there fails the build. */
#error                                                                                             \
    "the domain library links no Kafka, Redis or HTTP code: <curl/curl.h> belongs in common/runtime"
