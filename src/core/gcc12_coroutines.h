// GCC 12's coroutine defects, and what this code base does about them: the one
// place that says so. Include it FIRST in a file that writes or awaits Asio
// coroutines (before any other include, so that its pragmas cover the Asio
// headers' inlined code too); the rules below apply to every such file.
//
// 1. Temporaries of a co_await full-expression are destroyed twice. A lambda
//    with captures, a std::function prvalue passed to a coroutine parameter,
//    a braced list or any aggregate temporary written inside the expression
//    that co_awaits is destroyed once too often (a double free). The rule:
//    build every awaitable in its own statement, then await it:
//        auto op = directory->lookup(query);
//        core::Result<model::Answer> r = co_await std::move(op);
//    or pass plain arguments (offloader.offload(read_file, path)); name a
//    capturing lambda before the statement that awaits (offload.h, coalescer.h).
//
// 2. -Wmismatched-new-delete, a false positive: Asio takes coroutine frames
//    from its recycling allocator (aligned_alloc) and returns them through the
//    frame's own operator delete (free); once both are inlined into one
//    function, GCC 12 pairs the class operator delete with the global new and
//    warns at -O2/-O3. Ignored below for the including file.
//
// 3. -Wmaybe-uninitialized, a false positive under -fsanitize=address,undefined
//    at -O2: the Status inside a valued Result<T> is reported uninitialized
//    where co_spawn default-constructs its completion value
//    (asio/impl/co_spawn.hpp). Ignored below for the including file.
//
// When the project moves past GCC 12, this header and its includes go.
#pragma once

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
