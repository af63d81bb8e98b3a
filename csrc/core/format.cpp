#include "format.hpp"

namespace fixedpoint {

const char* qmode_name(QMode q) {
    switch (q) {
        case QMode::TRN: return "TRN";
        case QMode::TRN_ZERO: return "TRN_ZERO";
        case QMode::RND: return "RND";
        case QMode::RND_ZERO: return "RND_ZERO";
        case QMode::RND_MIN_INF: return "RND_MIN_INF";
        case QMode::RND_INF: return "RND_INF";
        case QMode::RND_CONV: return "RND_CONV";
        case QMode::STOCH: return "STOCH";
    }
    return "?";
}

const char* omode_name(OMode o) {
    switch (o) {
        case OMode::WRAP: return "WRAP";
        case OMode::SAT: return "SAT";
        case OMode::SAT_ZERO: return "SAT_ZERO";
        case OMode::SAT_SYM: return "SAT_SYM";
        case OMode::WRAP_SM: return "WRAP_SM";
    }
    return "?";
}

void Format::validate() const {
    if (w < 1 || w > kMaxWidth)
        throw std::invalid_argument("Fixed: w must be in [1, " + std::to_string(kMaxWidth) +
                                    "], got w=" + std::to_string(w));
    if (i < -kMaxIntBits || i > kMaxIntBits)
        throw std::invalid_argument("Fixed: i (integer bits) must be in [-2**20, 2**20] = [" +
                                    std::to_string(-kMaxIntBits) + ", " + std::to_string(kMaxIntBits) +
                                    "], got i=" + std::to_string(i));
    if (int(q) < 0 || int(q) > int(QMode::STOCH))
        throw std::invalid_argument("Fixed: unknown rounding mode q=" + std::to_string(int(q)));
    if (int(o) < 0 || int(o) > int(OMode::WRAP_SM))
        throw std::invalid_argument("Fixed: unknown overflow mode o=" + std::to_string(int(o)));
    if (n < 0 || n > w)
        throw std::invalid_argument("Fixed: n must be in [0, w=" + std::to_string(w) +
                                    "], got n=" + std::to_string(n));
    if (n != 0 && o != OMode::WRAP && o != OMode::WRAP_SM)
        throw std::invalid_argument(std::string("Fixed: n (saturation bits) must be 0 unless o is WRAP or WRAP_SM, got o=") +
                                    omode_name(o) + " n=" + std::to_string(n));
    if (o == OMode::WRAP_SM && !is_signed)
        throw std::invalid_argument("Fixed: o=WRAP_SM requires a signed format (ap_ufixed rejects it)");
}

}  // namespace fixedpoint
