// The tern subcommands; each lives in cmd_<name>.cpp and returns the process exit code.
#pragma once

namespace tern::cli {

int cmd_convert(int argc, char** argv);
int cmd_forward(int argc, char** argv);
int cmd_tokenize(int argc, char** argv);
int cmd_train(int argc, char** argv);
int cmd_eval(int argc, char** argv);
int cmd_grad(int argc, char** argv);
int cmd_infer(int argc, char** argv);
int cmd_pack(int argc, char** argv);
int cmd_tweeteval(int argc, char** argv);
int cmd_topics(int argc, char** argv);

}  // namespace tern::cli
