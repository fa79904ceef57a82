// stb_image and stb_image_write compiled into the fuzz and sanitizer builds from the same Debian
// header libstb is built from, so that AddressSanitizer and UndefinedBehaviorSanitizer see
// inside the decoders (the prebuilt libstb is not instrumented). Those builds link this instead
// of -lstb; the ordinary build uses Debian's library.
#define STB_IMAGE_IMPLEMENTATION
#define STB_IMAGE_WRITE_IMPLEMENTATION
#include <stb/stb_image.h>
#include <stb/stb_image_write.h>
