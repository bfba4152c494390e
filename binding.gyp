# node-gyp build of the same addon, CPU backend only, for users without cmake:
#   npm install --ignore-scripts && npm run build:gyp
# cmake-js (the default `npm install`) is the primary build and the only one with the CUDA backend.
{
  "targets": [
    {
      "target_name": "dsv3",
      "sources": [
        "<!@(node -e \"const fs=require('fs');for(const d of ['native','native/cpu','native/binding']){for(const f of fs.readdirSync(d).sort())if(f.endsWith('.cc'))console.log(d+'/'+f)}\")"
      ],
      "include_dirs": [
        "<!(node -p \"require('node-addon-api').include_dir\")",
        "."
      ],
      "defines": ["NAPI_VERSION=8", "NODE_ADDON_API_CPP_EXCEPTIONS", "NODE_ADDON_API_DISABLE_DEPRECATED"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions", "-std=gnu++1y", "-std=gnu++17"],
      "cflags_cc": ["-std=c++17", "-fexceptions", "-O3", "-fno-math-errno", "-Wno-unused-parameter"],
      "xcode_settings": {
        "GCC_ENABLE_CPP_EXCEPTIONS": "YES",
        "CLANG_CXX_LANGUAGE_STANDARD": "c++17",
        "OTHER_CPLUSPLUSFLAGS": ["-O3", "-fexceptions"]
      },
      "libraries": ["-lpthread"]
    }
  ]
}
