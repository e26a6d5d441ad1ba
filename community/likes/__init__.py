"""Likes of repos: `like`/`unlike`, `list_repo_likers`, `list_liked_repos`, and `Repo.likes`
(served by model_info and sorted on by list_models). SECURITY: likes are reached only through a
repo the caller may see (`gating.policy`): a private repo's likers and count answer like a
missing repo to strangers, and a user's liked repos list only what the caller may see."""
