// fixedpoint core: dispatch of runtime (q, o) modes to compile-time constants (Python-free).
#pragma once
#include <type_traits>

#include "format.hpp"

namespace fixedpoint {

// Calls f(std::integral_constant<QMode, q>, std::integral_constant<OMode, o>) for the runtime
// modes q and o, so that kernels are templates over (Q, O) dispatched once per call.
template <class F>
void with_modes(QMode q, OMode o, F&& f) {
    auto with_o = [&](auto qc) {
        switch (o) {
            case OMode::WRAP: return f(qc, std::integral_constant<OMode, OMode::WRAP>{});
            case OMode::SAT: return f(qc, std::integral_constant<OMode, OMode::SAT>{});
            case OMode::SAT_ZERO: return f(qc, std::integral_constant<OMode, OMode::SAT_ZERO>{});
            case OMode::SAT_SYM: return f(qc, std::integral_constant<OMode, OMode::SAT_SYM>{});
            case OMode::WRAP_SM: return f(qc, std::integral_constant<OMode, OMode::WRAP_SM>{});
        }
    };
    switch (q) {
        case QMode::TRN: return with_o(std::integral_constant<QMode, QMode::TRN>{});
        case QMode::TRN_ZERO: return with_o(std::integral_constant<QMode, QMode::TRN_ZERO>{});
        case QMode::RND: return with_o(std::integral_constant<QMode, QMode::RND>{});
        case QMode::RND_ZERO: return with_o(std::integral_constant<QMode, QMode::RND_ZERO>{});
        case QMode::RND_MIN_INF: return with_o(std::integral_constant<QMode, QMode::RND_MIN_INF>{});
        case QMode::RND_INF: return with_o(std::integral_constant<QMode, QMode::RND_INF>{});
        case QMode::RND_CONV: return with_o(std::integral_constant<QMode, QMode::RND_CONV>{});
        case QMode::STOCH: return with_o(std::integral_constant<QMode, QMode::STOCH>{});
    }
}

}  // namespace fixedpoint
