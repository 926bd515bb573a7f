{
  "targets": [
    {
      "target_name": "igrpo_native",
      "sources": [
        "src/addon.cc", "src/threads.cc", "src/matmul.cc", "src/layernorm.cc", "src/gelu.cc", "src/llm.cc",
        "src/attention.cc", "src/logprobs.cc", "src/embedding.cc", "src/elementwise.cc", "src/transpose.cc",
        "src/decode_attention.cc", "src/decode_binding.cc"
      ],
      "dependencies": ["<!(node -p \"require('node-addon-api').targets\"):node_addon_api_except"],
      "include_dirs": ["/usr/include/x86_64-linux-gnu/openblas-pthread", "/usr/include/openblas"],
      "cflags_cc": ["-O3", "-march=native", "-fno-math-errno", "-fno-trapping-math", "-fopenmp", "-std=c++17"],
      "ldflags": ["-fopenmp"],
      "libraries": ["-lopenblas"]
    }
  ]
}
